bin_PROGRAMS += nc/overcast-nc
noinst_LIBRARIES += nc/libnc.a
# Everything but main() lives in libnc.a so tests and fuzzers link it.
nc_libnc_a_SOURCES = \
	nc/nc.h \
	nc/hyp.c nc/hyp.h \
	nc/domain.c nc/domain.h \
	nc/disk.c nc/disk.h \
	nc/driver.h nc/virt.c \
	nc/qmp.c nc/qmp.h nc/mc.c nc/mc_int.h nc/mc_pool.c nc/mc_clone.c \
	nc/node.c nc/node.h \
	nc/api.c nc/api.h \
	nc/report.c nc/report.h \
	nc/imgcache.c nc/imgcache.h \
	nc/imgfetch.c nc/imgfetch.h
OC_NC_LIBS = nc/libnc.a euca-compat/libeuca.a $(OC_COMMON_LIBS) $(LIBVIRT_LIBS) $(ARCHIVE_LIBS)
nc_overcast_nc_SOURCES = nc/main.c
nc_overcast_nc_LDADD = $(OC_NC_LIBS)
