# Unit tests: one file per module, one runner, closing line "N passed, N failed".
check_PROGRAMS += tests/unit/unit-tests
tests_unit_unit_tests_SOURCES = \
	tests/unit/harness.c tests/unit/harness.h \
	tests/unit/test_basics.c \
	tests/unit/test_http.c \
	tests/unit/test_identity.c \
	tests/unit/test_httpc.c \
	tests/unit/test_clc_filter.c \
	tests/unit/test_clc_cache.c \
	tests/unit/test_keypairs.c \
	tests/unit/test_secgroups.c \
	tests/unit/test_manifest.c \
	tests/unit/test_bundle.c \
	tests/unit/test_bundler.c \
	tests/unit/test_imgcache.c \
	tests/unit/test_nc.c \
	tests/unit/test_nc_node.c \
	tests/unit/test_qsrv.c \
	tests/unit/test_cc.c \
	tests/unit/test_cc_mdproxy.c \
	tests/unit/test_cc_net.c \
	tests/unit/test_sigv4.c \
	tests/unit/test_sigv2.c \
	tests/unit/test_chunked.c \
	tests/unit/test_auth.c \
	tests/unit/test_store.c \
	tests/unit/test_store_cache.c \
	tests/unit/store_fixtures.c tests/unit/store_fixtures.h \
	tests/unit/test_s3.c
tests_unit_unit_tests_CPPFLAGS = $(AM_CPPFLAGS) -DOC_TEST_SRCDIR='"$(abs_top_srcdir)"'
tests_unit_unit_tests_LDADD = clc/libclc.a nc/libnc.a cc/libcc.a euca-compat/libeuca.a walrus/libwalrus.a \
	$(OC_COMMON_LIBS) $(LIBVIRT_LIBS) $(ARCHIVE_LIBS) $(NFT_LIBS) $(NL_LIBS)
