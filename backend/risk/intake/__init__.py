"""Risk data coming in: feeds of records from one source each (the registry, courts, news, a
rating agency, the bank's own core banking, ...), loaded idempotently.

- ``records``: the feed record format and its validator (pure): a raw record becomes a
  ``FeedRecord`` or a ``Rejection`` with a reason;
- ``adapters``: where records come from: files (JSON Lines, JSON, CSV) and paged HTTP feeds,
  and the feed configuration the refresh jobs run;
- ``resolution``: which enterprise (or person) a record is about;
- ``ingest``: a batch into the database (events with provenance, ``FeedRun``, audit), then the
  touched enterprises re-evaluated; ``facts`` (profile attributes per source, master data) and
  ``edges`` (the knowledge graph) are its parts."""
