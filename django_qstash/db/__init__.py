"""Raw-SQL fast paths behind a few functions: bulk insert, group commit, owned-row updates."""
