bin_PROGRAMS += cc/overcast-cc
noinst_LIBRARIES += cc/libcc.a
# Everything but main() lives in libcc.a so tests and fuzzers link it.
cc_libcc_a_SOURCES = \
	cc/sched.c cc/sched.h \
	cc/addr.c cc/addr.h \
	cc/cluster.c cc/cluster.h \
	cc/api.c cc/api.h \
	cc/netstate.c cc/netstate.h \
	cc/mdproxy.c cc/mdproxy.h \
	cc/netns.c cc/netns.h \
	cc/netmodel.h \
	cc/nft.c cc/nft.h \
	cc/dhcp.c cc/dhcp.h \
	cc/netif.c cc/netif.h \
	cc/dataplane.c cc/dataplane.h
OC_CC_LIBS = cc/libcc.a $(OC_COMMON_LIBS) $(NFT_LIBS) $(NL_LIBS)
cc_overcast_cc_SOURCES = cc/main.c
cc_overcast_cc_LDADD = $(OC_CC_LIBS)
