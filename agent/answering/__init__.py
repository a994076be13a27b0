"""Answering a customer: the agent's turn (retrieve → decide → generate → guard), the prompt and the
inference backends (llama.cpp in process, or a pool of remote OpenAI-compatible servers), the grounding
guard and language detection.
"""
