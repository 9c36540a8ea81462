"""The words the data model and the domain share: the enums stored in columns and the
fixed lists around them. The bottom layer: it imports nothing of ours, so the models
and every domain package can use it without a cycle."""
