"""End-to-end image pipelines: decode → preprocess → host-to-device → inference → postprocess.

The reference harness found that an image service's end-to-end time is dominated by what
surrounds inference. A pipeline case times every stage and the whole, on real encoded
files, and checks its predictions against the `current` (CPU preprocessing) pipeline.
"""

from onnxbench.scenarios.pipeline.run import PIPELINES, run_pipeline_case

__all__ = ["PIPELINES", "run_pipeline_case"]
