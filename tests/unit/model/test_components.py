"""Unit tests of the four paper components, the loss and the anomaly map."""

import pytest
import torch
from model_defaults import make_extractor, make_torch_model
from torch import nn

from anomalib_simplenet.simplenet.anomaly_map import AnomalyMapGenerator
from anomalib_simplenet.simplenet.components import AnomalousFeatureGenerator, Discriminator, FeatureAdaptor, FeatureExtractor
from anomalib_simplenet.simplenet.loss import TruncatedL1Loss
from anomalib_simplenet.simplenet.torch_model import SimpleNetModel


@pytest.fixture(scope="module")
def resnet_extractor() -> FeatureExtractor:
    return make_extractor(backbone="resnet18", layers=("layer2", "layer3"), pre_trained=False, embedding_dim=256)


class TestFeatureExtractor:
    def test_levels_meet_on_the_finest_grid(self, resnet_extractor: FeatureExtractor) -> None:
        features = resnet_extractor(torch.rand(2, 3, 224, 224))
        assert features.shape == (2, 256, 28, 28)  # layer2 (stride 8) + layer3 (stride 16) on 28x28
        assert resnet_extractor.out_channels == 256

    @pytest.mark.parametrize("embedding", ["unfolded", "channel_mean"])
    def test_finest_grid_is_found_whatever_the_level_order(self, embedding: str) -> None:
        forward = make_extractor(
            backbone="resnet18", layers=("layer2", "layer3"), pre_trained=False, embedding=embedding, embedding_dim=64
        )
        backward = make_extractor(
            backbone="resnet18", layers=("layer3", "layer2"), pre_trained=False, embedding=embedding, embedding_dim=64
        )
        assert backward(torch.rand(1, 3, 128, 128)).shape == forward(torch.rand(1, 3, 128, 128)).shape
        assert backward(torch.rand(1, 3, 128, 128)).shape[-2:] == (16, 16)

    def test_backbone_is_frozen_and_stays_in_eval_mode(self, resnet_extractor: FeatureExtractor) -> None:
        resnet_extractor.train()
        assert not resnet_extractor.backbone.training
        assert all(not p.requires_grad for p in resnet_extractor.parameters())
        assert not resnet_extractor(torch.rand(1, 3, 64, 64)).requires_grad

    def test_unknown_level_names_the_available_ones(self) -> None:
        with pytest.raises(ValueError, match=r"Unknown backbone level\(s\) \['layer9'\].*layer2"):
            make_extractor(backbone="resnet18", layers=("layer2", "layer9"), pre_trained=False)

    @pytest.mark.parametrize("patch_size", [0, -3, 2])
    def test_bad_patch_size(self, patch_size: int) -> None:
        with pytest.raises(ValueError, match="patch_size"):
            make_extractor(backbone="resnet18", layers=("layer2",), pre_trained=False, patch_size=patch_size)


class TestFeatureAdaptor:
    def test_linear_with_and_without_bias(self) -> None:
        assert FeatureAdaptor(16, adaptor="linear", init="default").projection.bias is not None
        assert FeatureAdaptor(16, adaptor="linear_no_bias", init="default").projection.bias is None

    def test_none_is_identity(self) -> None:
        features = torch.rand(5, 16)
        assert torch.equal(FeatureAdaptor(16, adaptor="none", init="default")(features), features)

    def test_unknown_adaptor(self) -> None:
        with pytest.raises(ValueError, match="adaptor must be"):
            FeatureAdaptor(16, adaptor="transformer", init="default")  # type: ignore[arg-type]


class TestAnomalousFeatureGenerator:
    def test_noise_is_zero_mean_with_requested_std(self) -> None:
        torch.manual_seed(0)
        features = torch.rand(20_000, 64)
        noise = AnomalousFeatureGenerator(noise_std=0.015, noise_scale="absolute")(features) - features
        assert noise.mean().abs() < 1e-4
        assert noise.std().item() == pytest.approx(0.015, rel=0.01)
        per_channel = noise.std(dim=0)  # i.i.d. per channel
        assert per_channel.min() > 0.014
        assert per_channel.max() < 0.016

    @pytest.mark.parametrize("std", [0.0, -0.1])
    def test_non_positive_std(self, std: float) -> None:
        with pytest.raises(ValueError, match="noise_std"):
            AnomalousFeatureGenerator(noise_std=std, noise_scale="relative")


class TestDiscriminator:
    def test_layout(self) -> None:
        layers = Discriminator(32, hidden=48).layers
        assert [type(m) for m in layers] == [nn.Linear, nn.BatchNorm1d, nn.LeakyReLU, nn.Linear]
        assert layers[0].out_features == 48
        assert layers[2].negative_slope == 0.2
        assert layers[3].bias is None
        assert layers[3].out_features == 1

    def test_no_sigmoid_scores_are_unbounded(self) -> None:
        discriminator = Discriminator(8, hidden=16).eval()
        with torch.no_grad():
            discriminator.layers[3].weight.fill_(100.0)
        assert discriminator(torch.rand(4, 8)).abs().max() > 1

    def test_bad_hidden(self) -> None:
        with pytest.raises(ValueError, match="discriminator_hidden"):
            Discriminator(8, hidden=0)


class TestTruncatedL1Loss:
    def test_known_values(self) -> None:
        loss = TruncatedL1Loss(normal_threshold=0.5, anomalous_threshold=-0.5)
        # normal: 0.5-1 -> 0, 0.5-0 -> 0.5 ; anomalous: -1+0.5 -> 0, 0+0.5 -> 0.5 ; mean of (0.5, 1.0) = 0.75
        assert loss(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.0])).item() == pytest.approx(0.5)
        assert loss(torch.tensor([0.0, 0.0]), torch.tensor([0.0, -1.0])).item() == pytest.approx(0.75)

    def test_zero_once_margins_are_met(self) -> None:
        assert (
            TruncatedL1Loss(normal_threshold=0.5, anomalous_threshold=-0.5)(
                torch.full((10,), 0.7), torch.full((10,), -0.6)
            ).item()
            == 0
        )

    def test_thresholds_are_configurable(self) -> None:
        loss = TruncatedL1Loss(normal_threshold=1.0, anomalous_threshold=-2.0)
        assert loss(torch.tensor([0.0]), torch.tensor([0.0])).item() == pytest.approx(3.0)

    def test_inverted_thresholds(self) -> None:
        with pytest.raises(ValueError, match="must be lower"):
            TruncatedL1Loss(normal_threshold=-0.5, anomalous_threshold=0.5)


class TestAnomalyMapGenerator:
    def test_upsamples_to_image_size(self) -> None:
        assert AnomalyMapGenerator(sigma=4.0)(torch.rand(2, 1, 28, 28), (224, 160)).shape == (2, 1, 224, 160)

    def test_constant_map_stays_constant(self) -> None:
        out = AnomalyMapGenerator(sigma=4)(torch.full((1, 1, 8, 8), 0.3), (64, 64))
        assert torch.allclose(out, torch.full_like(out, 0.3), atol=1e-5)

    def test_blur_spreads_a_peak_but_keeps_it_in_place(self) -> None:
        scores = torch.zeros(1, 1, 28, 28)
        scores[0, 0, 10, 20] = 1.0
        out = AnomalyMapGenerator(sigma=4)(scores, (224, 224))[0, 0]
        row, col = divmod(int(out.argmax()), 224)
        assert abs(row - 84) <= 4  # centre of patch (10, 20) at stride 8
        assert abs(col - 164) <= 4
        assert out.max() < 1.0  # smoothed
        assert (out > 0.01).sum() > 200  # spread over a neighbourhood

    def test_bad_sigma(self) -> None:
        with pytest.raises(ValueError, match="sigma"):
            AnomalyMapGenerator(sigma=0)

    @pytest.mark.parametrize("size", [(224, 224), (96, 128)])
    def test_blur_equals_anomalibs_gaussian_blur(self, size: tuple[int, int]) -> None:
        from anomalib.models.components import GaussianBlur2d

        patch_scores = torch.rand(3, 1, 12, 16)
        upsampled = torch.nn.functional.interpolate(patch_scores, size=size, mode="bilinear", align_corners=False)
        reference = GaussianBlur2d(kernel_size=(33, 33), sigma=(4.0, 4.0), channels=1)(upsampled)
        ours = AnomalyMapGenerator(sigma=4)(patch_scores, size)
        assert torch.allclose(ours, reference, atol=1e-6)

    def test_map_smaller_than_the_blur_is_refused(self) -> None:
        with pytest.raises(ValueError, match="larger than the blur radius"):
            AnomalyMapGenerator(sigma=4)(torch.rand(1, 1, 4, 4), (16, 16))


class TestSimpleNetModel:
    @pytest.fixture(scope="class")
    def model(self) -> SimpleNetModel:
        torch.manual_seed(0)
        return make_torch_model(
            backbone="resnet18", layers=("layer2", "layer3"), pre_trained=False, embedding_dim=128, discriminator_hidden=32
        )

    def test_inference_output(self, model: SimpleNetModel) -> None:
        model.eval()
        images = torch.rand(2, 3, 96, 128)  # odd, non-square size
        output = model(images)
        assert output.pred_score.shape == (2,)
        assert output.anomaly_map.shape == (2, 1, 96, 128)
        patch_scores = model.patch_scores(model.feature_extractor(images))
        assert torch.allclose(output.pred_score, patch_scores.amax(dim=(1, 2, 3)))  # eq. 11 on the unsmoothed map

    @pytest.mark.parametrize("shape", [(1, 1, 64, 64), (1, 4, 64, 64), (3, 64, 64)])
    def test_wrong_channels_or_rank(self, model: SimpleNetModel, shape: tuple[int, ...]) -> None:
        with pytest.raises(ValueError, match="RGB images"):
            model.eval()(torch.rand(*shape))

    def test_training_separates_normal_from_noisy_features(self) -> None:
        torch.manual_seed(0)
        # Default noise, the lite0 preset's embedding length, the discriminator's default learning rate.
        model = make_torch_model(
            backbone="resnet18", layers=("layer2",), pre_trained=False, embedding_dim=384, discriminator_hidden=32
        )
        features = model.feature_extractor(torch.rand(4, 3, 64, 64))
        optimiser = torch.optim.Adam([*model.feature_adaptor.parameters(), *model.discriminator.parameters()], lr=2e-4)
        model.train()
        first = model.compute_loss(features).item()
        for _ in range(400):  # BatchNorm's running statistics (used in eval mode) need a while to catch up
            optimiser.zero_grad()
            loss = model.compute_loss(features)
            loss.backward()
            optimiser.step()
        assert loss.item() < 0.5 * first
        model.eval()
        with torch.no_grad():  # fresh draws of the generator's noise: the discriminator generalises beyond its batches
            adapted = model.feature_adaptor(features.permute(0, 2, 3, 1).reshape(-1, features.shape[1]))
            normal = -model.discriminator(adapted)
            noisy = -model.discriminator(model.anomalous_feature_generator(adapted))
        assert (noisy > normal.median()).float().mean() > 0.75  # anomaly score higher for off-distribution features


@pytest.mark.parametrize("crop", [None, (224, 224)])
def test_training_and_deployed_pre_processing_are_the_same(crop: tuple[int, int] | None) -> None:
    """Thresholds are set on what `engine.test` sees; exported models see `PreProcessor.forward`'s input."""
    from anomalib_simplenet.simplenet import SimpleNet

    pre_processor = SimpleNet.configure_pre_processor(center_crop_size=crop)
    image = torch.rand(1, 3, 900, 900)  # a full-size MVTec image, downscaled 3.5x
    assert torch.equal(pre_processor.transform(image), pre_processor(image))
