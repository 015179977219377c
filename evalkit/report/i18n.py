"""Danish and English labels: moved to :mod:`evalkit.i18n` (below the domain layer); re-exported here
so report code keeps importing them from ``evalkit.report.i18n``."""
from evalkit.i18n import LABELS, LANGS, SECTIONS, format_number, format_p, label, localize_numbers, p_equals, section

__all__ = ["LABELS", "LANGS", "SECTIONS", "format_number", "format_p", "label", "localize_numbers", "p_equals",
           "section"]
