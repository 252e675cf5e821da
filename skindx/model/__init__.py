"""The model: VGG builders (the compact VGG and VGG16 from pretrained conv weights), the
``SkinModel`` bundle (a Keras model plus its ``ModelCard``) and how it loads, and the
post-training fits (temperature, out-of-domain reference, triage thresholds).
"""
