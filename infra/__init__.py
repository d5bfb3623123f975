"""AWS CDK (v2, Python) app of retailsage: storage, pipeline and endpoint stacks."""
