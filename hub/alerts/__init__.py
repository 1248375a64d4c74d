"""Alert routing (pure), dispatcher (shell), delivery state and evacuation tracking."""
