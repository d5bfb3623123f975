"""The CloudFormation stacks: storage (stateful), pipeline, real-time endpoint."""
