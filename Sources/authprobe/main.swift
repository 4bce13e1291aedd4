import AuthProbe
print(AuthProbeVersion.current)
