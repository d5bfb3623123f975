"""The pipeline's Lambda functions (asset root: a staged copy of this folder + retailsage)."""
