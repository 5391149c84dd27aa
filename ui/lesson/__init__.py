"""The Lesson page's parts: its steps and photo (inputs), the feature maps, the step-by-step maps, the quiz, and the
fixes of Bae et al. (NWC, PaS) beside vanilla CAM."""
