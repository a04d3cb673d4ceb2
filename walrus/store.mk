# Walrus storage: metadata in SQLite, object bytes in files, group commit.
walrus_libwalrus_a_SOURCES += walrus/store.c walrus/store.h walrus/store_priv.h \
	walrus/store_cache.c walrus/store_body.c walrus/store_commit.c walrus/store_list.c walrus/store_multipart.c
