bin_PROGRAMS += euca-compat/overcast-admin
euca_compat_overcast_admin_SOURCES = euca-compat/admin.c
euca_compat_overcast_admin_LDADD = $(OC_COMMON_LIBS)
