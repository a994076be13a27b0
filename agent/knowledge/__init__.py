"""The help center: Markdown articles and their validation, chunking, embeddings, the incremental Chroma
index, BM25, and hybrid retrieval.
"""
