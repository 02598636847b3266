"""`simplenet-fleet` on a Ray cluster of two nodes on this machine (``ray.cluster_utils.Cluster``): a path that only one
node may see is warned about; a shared file system or an object store is not."""

import pytest
import ray
from ray.cluster_utils import Cluster

from anomalib_simplenet.tools.fleet.train import mount_type, unshared_path_warnings


@pytest.fixture
def two_nodes() -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    yield
    ray.shutdown()
    cluster.shutdown()


def test_a_path_of_one_node_only_is_warned_about_on_a_cluster(two_nodes: None, tmp_path) -> None:
    assert mount_type(str(tmp_path)) not in {"nfs", "nfs4", "lustre"}  # this machine's own disk
    warnings = unshared_path_warnings([str(tmp_path), "s3://bucket/models"])
    assert len(warnings) == 1
    assert str(tmp_path) in warnings[0]
    assert "2 nodes" in warnings[0]


def test_one_node_needs_no_warning(tmp_path) -> None:
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        assert unshared_path_warnings([str(tmp_path)]) == []
    finally:
        ray.shutdown()
