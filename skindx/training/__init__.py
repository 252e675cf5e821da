"""Training: labelled image tables and lesion-level splits, the ``TrainConfig`` recipe, the Keras
engine, the PyTorch engine, and transfer learning from pretrained VGG16 conv weights. Turns an
ISIC download into a ``SkinModel`` with a complete card.
"""
