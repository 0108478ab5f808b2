"""UMMGAT: unpaired multi-centre multi-sequence translation with a lesion-aware module."""
