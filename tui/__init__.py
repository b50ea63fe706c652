"""pa-aws-setup: set up AWS authentication for Rundeck / PagerDuty Process Automation."""

__version__ = "0.1.0"
