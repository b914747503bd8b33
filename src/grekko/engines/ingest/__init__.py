"""The ingest pipeline: raw records from sources -> normalize -> validate -> enrich -> publish.

Each stage is its own module and can be used alone; `pipeline.IngestPipeline` chains them and
`service.IngestService` pumps async sources into pipelines.
"""
