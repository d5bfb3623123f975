"""The pipeline contract (state names) and the local, AWS-free runner of the state machine."""
