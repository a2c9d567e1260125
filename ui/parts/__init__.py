"""Page parts that attacks declare (`Attack.parts`, `ui.page_parts.PageParts`): one module per attack
whose page needs more than the standard parts."""
