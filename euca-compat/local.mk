noinst_LIBRARIES += euca-compat/libeuca.a
# Eucalyptus formats shared by the CLC (RegisterImage), the NC (image
# fetch) and the bundling tools.
euca_compat_libeuca_a_SOURCES = \
	euca-compat/manifest.c euca-compat/manifest.h \
	euca-compat/bundle.c euca-compat/bundle.h \
	euca-compat/bundler.c euca-compat/bundler.h \
	euca-compat/tools.c euca-compat/tools.h
bin_PROGRAMS += euca-compat/overcast-admin
euca_compat_overcast_admin_SOURCES = euca-compat/admin.c euca-compat/admin.h \
	euca-compat/admin_cloud.c
euca_compat_overcast_admin_LDADD = $(OC_COMMON_LIBS) $(ARCHIVE_LIBS)
# The bundling tools: euca-bundle-image and euca-upload-bundle, in C.
bin_PROGRAMS += euca-compat/overcast-bundle-image euca-compat/overcast-upload-bundle
euca_compat_overcast_bundle_image_SOURCES = euca-compat/bundle_image.c
euca_compat_overcast_bundle_image_LDADD = euca-compat/libeuca.a $(OC_COMMON_LIBS) $(ARCHIVE_LIBS)
euca_compat_overcast_upload_bundle_SOURCES = euca-compat/upload_bundle.c
euca_compat_overcast_upload_bundle_LDADD = euca-compat/libeuca.a $(OC_COMMON_LIBS)
