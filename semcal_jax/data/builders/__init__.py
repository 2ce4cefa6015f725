"""One TFDS builder per data set; `semcal_jax.data.BUILDERS` maps names to them."""
