# Install rules for everything that is not a compiled target: the systemd units, the
# sysusers.d and tmpfiles.d snippets and the example configuration. Included at the end
# of the top-level CMakeLists.txt. The binaries (superserverd in sbin, superctl in bin),
# the man pages and the qotd module have their install() rules next to their targets.
#
# Directories (cache variables; override with -D...):
#   SS_SYSTEMD_UNITDIR  systemd system units   pkg-config systemd systemdsystemunitdir,
#                                              else /lib/systemd/system
#   SS_SYSUSERSDIR      sysusers.d snippets    pkg-config systemd sysusersdir,
#                                              else /usr/lib/sysusers.d
#   SS_TMPFILESDIR      tmpfiles.d snippets    pkg-config systemd tmpfilesdir,
#                                              else /usr/lib/tmpfiles.d
#   SS_CONFDIR          the configuration      /etc/superserverd (absolute whatever the
#                                              prefix: the daemon and superctl read
#                                              /etc/superserverd/superserverd.yaml)
#   SS_INSTALL_CONFIG   install the example configuration (ON)
#
# All of them are absolute; `DESTDIR=... cmake --install` and CPack stage them under
# DESTDIR like everything else (file(INSTALL) prepends DESTDIR itself).
include_guard(GLOBAL)

# systemd.pc is shipped by the package "systemd" itself on Debian 12
# (/usr/share/pkgconfig/systemd.pc). Without it (a build machine without systemd),
# Debian 12's values are used.
set(_ss_pc_unitdir "")
set(_ss_pc_sysusersdir "")
set(_ss_pc_tmpfilesdir "")
if(PKG_CONFIG_FOUND)
  pkg_check_modules(SS_SYSTEMD_PC QUIET systemd)
  if(SS_SYSTEMD_PC_FOUND)
    pkg_get_variable(_ss_pc_unitdir systemd systemdsystemunitdir)
    pkg_get_variable(_ss_pc_sysusersdir systemd sysusersdir)
    pkg_get_variable(_ss_pc_tmpfilesdir systemd tmpfilesdir)
  endif()
endif()
if(NOT _ss_pc_unitdir)
  set(_ss_pc_unitdir /lib/systemd/system)
endif()
if(NOT _ss_pc_sysusersdir)
  set(_ss_pc_sysusersdir /usr/lib/sysusers.d)
endif()
if(NOT _ss_pc_tmpfilesdir)
  set(_ss_pc_tmpfilesdir /usr/lib/tmpfiles.d)
endif()

set(SS_SYSTEMD_UNITDIR "${_ss_pc_unitdir}" CACHE PATH "Where the systemd unit files are installed")
set(SS_SYSUSERSDIR "${_ss_pc_sysusersdir}" CACHE PATH "Where the sysusers.d snippet is installed")
set(SS_TMPFILESDIR "${_ss_pc_tmpfilesdir}" CACHE PATH "Where the tmpfiles.d snippet is installed")
set(SS_CONFDIR /etc/superserverd CACHE PATH "Where the configuration is installed")
option(SS_INSTALL_CONFIG "Install the example configuration into SS_CONFDIR" ON)

foreach(_ss_dir SS_SYSTEMD_UNITDIR SS_SYSUSERSDIR SS_TMPFILESDIR SS_CONFDIR)
  if(NOT IS_ABSOLUTE "${${_ss_dir}}")
    message(FATAL_ERROR "${_ss_dir} must be an absolute path (is '${${_ss_dir}}')")
  endif()
endforeach()

# --- the service unit -------------------------------------------------------------------
# units/superserverd.service names /usr/sbin/superserverd and
# /etc/superserverd/superserverd.yaml. Both are rewritten when the file is installed, to
# the prefix in effect *at install time* (cmake --install --prefix, CPack's /usr), so the
# installed unit always starts the installed binary. The copy is made in the build tree,
# then installed with file(INSTALL) so that it appears in install_manifest.txt.
if(IS_ABSOLUTE "${CMAKE_INSTALL_SBINDIR}")
  set(_ss_sbin_expr "${CMAKE_INSTALL_SBINDIR}")
else()
  set(_ss_sbin_expr "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}")
endif()
install(CODE "
  set(_ss_sbin \"${_ss_sbin_expr}\")
  file(READ \"${CMAKE_SOURCE_DIR}/units/superserverd.service\" _ss_unit)
  string(REPLACE \"/usr/sbin/superserverd\" \"\${_ss_sbin}/superserverd\" _ss_unit \"\${_ss_unit}\")
  string(REPLACE \"/etc/superserverd/superserverd.yaml\" \"${SS_CONFDIR}/superserverd.yaml\" _ss_unit \"\${_ss_unit}\")
  file(MAKE_DIRECTORY \"${CMAKE_BINARY_DIR}/install-units\")
  file(WRITE \"${CMAKE_BINARY_DIR}/install-units/superserverd.service\" \"\${_ss_unit}\")
  file(INSTALL DESTINATION \"${SS_SYSTEMD_UNITDIR}\" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES \"${CMAKE_BINARY_DIR}/install-units/superserverd.service\")
")

# The example socket unit is installed too but enabled by nothing: see docs/systemd.md.
install(FILES ${CMAKE_SOURCE_DIR}/units/superserverd.socket
  DESTINATION ${SS_SYSTEMD_UNITDIR}
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

install(FILES ${CMAKE_SOURCE_DIR}/units/superserverd.sysusers
  DESTINATION ${SS_SYSUSERSDIR} RENAME superserverd.conf
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${CMAKE_SOURCE_DIR}/units/superserverd.tmpfiles
  DESTINATION ${SS_TMPFILESDIR} RENAME superserverd.conf
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# --- the configuration ------------------------------------------------------------------
# packaging/superserverd.yaml (not the quick-start example): loopback-only echo and
# daytime on their standard ports, services as _superserverd. An existing file is never
# overwritten by `cmake --install` (it is the administrator's); in a package it is a
# conffile, which dpkg handles. conf.d/ is where one file per service goes.
if(SS_INSTALL_CONFIG)
  install(CODE "
    set(_ss_conf \"\$ENV{DESTDIR}${SS_CONFDIR}/superserverd.yaml\")
    if(EXISTS \"\${_ss_conf}\")
      message(STATUS \"Keeping: \${_ss_conf} (exists; the example is ${CMAKE_SOURCE_DIR}/packaging/superserverd.yaml)\")
    else()
      file(INSTALL DESTINATION \"${SS_CONFDIR}\" TYPE FILE
           PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
           FILES \"${CMAKE_SOURCE_DIR}/packaging/superserverd.yaml\")
    endif()
  ")
  install(DIRECTORY DESTINATION ${SS_CONFDIR}/conf.d
    DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                          WORLD_READ WORLD_EXECUTE)
endif()

# superctl: installed by its own rule next to add_executable(superctl) in the top-level
# CMakeLists.txt. Nothing to add here (a second rule would install it twice).
if(NOT TARGET superctl)
  message(STATUS "superctl is not built: the install has no superctl")
endif()
