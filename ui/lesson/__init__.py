"""The Lesson page's parts: its steps and photo (inputs), the feature maps, the step-by-step maps, and the quiz."""
