"""The LabLens shell: application, main window, workspace registry, task runner, settings, CLI."""
