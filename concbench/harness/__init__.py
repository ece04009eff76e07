"""The only code that starts or ends processes: servers, the backend service, measuring children, environments, signals."""
