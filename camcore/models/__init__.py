"""Models: names and weights (torchvision, timm, the packaged Lite0, local files), our checkpoints, which heads
allow exact CAM and how they pool (average or TAP), how each layer lays out its output (a CNN's maps, Swin's
channels-last features, a ViT's tokens), preprocessing, the device, and the hooks that touch a shared model and put
it back.

loading.load_model is the entry point; the default model is chosen in pretrained.default_model.
"""
