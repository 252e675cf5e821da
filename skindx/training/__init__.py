"""Training: labelled image tables and lesion-level splits, the split decoded into arrays, the
``TrainConfig`` recipe, augmentation, the Keras engine, the PyTorch engine, transfer learning
from pretrained VGG16 conv weights, and the finishing fits on validation. Turns an ISIC download
into a ``SkinModel`` with a complete card.
"""
