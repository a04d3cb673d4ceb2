bin_PROGRAMS += walrus/overcast-walrus
noinst_LIBRARIES += walrus/libwalrus.a
# Everything but main() lives in libwalrus.a so tests and fuzzers link it.
# store.mk (storage) and s3.mk (the S3 API) list their own sources.
walrus_libwalrus_a_SOURCES =
include walrus/store.mk
include walrus/s3.mk
walrus_overcast_walrus_SOURCES = walrus/main.c
walrus_overcast_walrus_LDADD = walrus/libwalrus.a $(OC_COMMON_LIBS)
