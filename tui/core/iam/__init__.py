"""IAM help: the catalog of Rundeck AWS plugins and least-privilege policies for them."""
