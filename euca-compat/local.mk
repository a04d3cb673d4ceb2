noinst_LIBRARIES += euca-compat/libeuca.a
# Eucalyptus formats shared by the CLC (RegisterImage), the NC (image
# fetch) and the bundling tools.
euca_compat_libeuca_a_SOURCES = \
	euca-compat/manifest.c euca-compat/manifest.h \
	euca-compat/bundle.c euca-compat/bundle.h
bin_PROGRAMS += euca-compat/overcast-admin
euca_compat_overcast_admin_SOURCES = euca-compat/admin.c euca-compat/admin.h \
	euca-compat/admin_cloud.c
euca_compat_overcast_admin_LDADD = $(OC_COMMON_LIBS) $(ARCHIVE_LIBS)
