"""Training: the rules a training must meet, the queue and its jobs, the feature cache, performance and export."""
