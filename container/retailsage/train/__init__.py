"""`train` mode: the SageMaker training-job contract."""
