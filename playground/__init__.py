"""The HenaServer Playground: a Django site that runs sandbox henaservers for learners."""
