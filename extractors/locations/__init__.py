"""Device location caches: positions a phone recorded itself (Apple routined, Google Maps),
stored as ``location/point`` records for ``forensic geo`` and the timeline."""
