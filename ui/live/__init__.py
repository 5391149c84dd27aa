"""The Live page: the camera's video with the model's CAM over every frame (streamlit-webrtc), and Pause and explain."""
