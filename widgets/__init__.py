"""Qt widgets: ``common/`` reusable views and one package per workspace."""
