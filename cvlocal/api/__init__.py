"""The HTTP API: one router per resource, request and response models (schemas/), the services they share."""
