"""Code both Lambdas share: event models, named errors, settings, lazy AWS clients."""
