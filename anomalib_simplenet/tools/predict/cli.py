"""``python -m anomalib_simplenet.tools.predict``: the command line -- options, one-line errors, exit status.

Example:
    >>> build_parser().parse_args(["--model", "model.xml", "--data", "images"]).output
    PosixPath('predictions')

"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from anomalib_simplenet.tools.threshold_file import THRESHOLD_FILE, ThresholdFileError, read_threshold
from anomalib_simplenet.visualization.predictions import CSV_NAME

from .run import PredictError, check_model, find_images, predict_openvino


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m anomalib_simplenet.tools.predict",
        description="Score images with an exported (OpenVINO) SimpleNet model; write predictions.csv and heat-map pictures.",
    )
    parser.add_argument("--model", type=Path, required=True, help="exported model: .../weights/openvino/model.xml (or .onnx)")
    parser.add_argument("--data", type=Path, required=True, help="an image, or a folder searched recursively for images")
    parser.add_argument("--output", type=Path, default=Path("predictions"), help="output folder (default: ./predictions)")
    parser.add_argument("--device", default="CPU", help="OpenVINO device (default: CPU)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return the exit status (2 for an input mistake, printed as one line)."""
    args = build_parser().parse_args(argv)
    try:
        model = check_model(args.model)
        images = find_images(args.data)
        threshold = read_threshold(model)
        if threshold is not None:
            print(f"Labels at the threshold {threshold:g} saved in {model.parent / THRESHOLD_FILE} (the model's own: 0.5).")
        predictions = predict_openvino(model, images, args.output, args.device)
    except (PredictError, ThresholdFileError) as error:
        print(f"predict: error: {error}", file=sys.stderr)
        return 2
    for prediction in predictions:
        print(f"{prediction.pred_score:.4f}  {'ANOMALOUS' if prediction.pred_label else 'normal   '}  {prediction.image_path}")
    anomalous = sum(prediction.pred_label for prediction in predictions)
    print(f"{len(predictions)} images, {anomalous} anomalous. Table: {Path(args.output) / CSV_NAME}; pictures beside it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
