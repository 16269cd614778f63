"""Kept so ``tinygan.gan.GAN`` keeps working: the GAN training step lives in tinygan/app/gan.py."""
from tinygan.app.gan import GAN, LOSSES, METRICS, MetricsLog, NonFiniteLossError, discriminator_loss, generator_loss  # noqa: F401
