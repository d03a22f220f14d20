Add a metric for the size of the event cache.
