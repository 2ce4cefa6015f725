"""Fixtures of the storage tests: the fake gs:// bucket, the tiny model and data file."""

from tests.pipeline.fixtures import data_env, tiny_model  # noqa: F401  (fixtures)
from tests.storage.fake_gcs import fake_gcs  # noqa: F401  (fixture)
