"""Small constructs the stacks compose: roles, functions, the state machine definition."""
