"""The image's ``featurize`` mode: the pipeline's featurization as a SageMaker Processing job."""
