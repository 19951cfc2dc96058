# Run by ctest (install_layout): installs the build into PREFIX and checks that each program
# and its manual page are where `cmake --install` users look for them, and that the
# installed programs run. SBINDIR, BINDIR and MANDIR are the build's CMAKE_INSTALL_* values.
foreach(dir ${SBINDIR} ${BINDIR} ${MANDIR})
  if(IS_ABSOLUTE ${dir})
    # --prefix does not move an absolute directory: installing would write outside PREFIX
    message(STATUS "skipped: ${dir} is absolute, so the install would leave ${PREFIX}")
    return()
  endif()
endforeach()
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc}):\n${out}")
endif()

set(expected ${SBINDIR}/ftpd ${MANDIR}/man8/ftpd.8)
set(programs ${SBINDIR}/ftpd)
if(WITH_FTPC)
  list(APPEND expected ${BINDIR}/ftpc ${MANDIR}/man1/ftpc.1)
  list(APPEND programs ${BINDIR}/ftpc)
endif()
foreach(f ${expected})
  if(NOT EXISTS ${PREFIX}/${f})
    message(FATAL_ERROR "not installed: ${PREFIX}/${f}\ninstall output:\n${out}")
  endif()
endforeach()
foreach(p ${programs})
  execute_process(COMMAND ${PREFIX}/${p} --version RESULT_VARIABLE rc OUTPUT_VARIABLE ver
                  ERROR_VARIABLE ver)
  if(NOT rc EQUAL 0 OR NOT ver MATCHES "[0-9]+\\.[0-9]+\\.[0-9]+")
    message(FATAL_ERROR "${PREFIX}/${p} --version: exit ${rc}, output: ${ver}")
  endif()
endforeach()
file(REMOVE_RECURSE ${PREFIX})
message(STATUS "installed and ran: ${programs}")
