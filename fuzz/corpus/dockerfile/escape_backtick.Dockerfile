# escape=`

FROM mcr.microsoft.com/windows/servercore
COPY testfile.txt c:\
RUN dir c:\ `
    && echo continued
ENV P=C:\Program` Files\app
WORKDIR c:\\Windows
