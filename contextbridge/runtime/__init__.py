"""A configuration's feeds and sinks at work: configuration, adapter, feed runner, metrics, logs."""
